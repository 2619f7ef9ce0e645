{#- Rejected lines per file and rule. The rule is the reason with the offending
    values taken out, so rows group by what went wrong, not by what was written. -#}
with

rejects as (
    select * from {{ ref('stg_extracts__rejects') }}
),

ruled as (
    select
        file_name,
        entity,
        line_number,
        {#- ": 'value'" and " (lines 2, 3)" out; the quote as chr(39) and the
            parentheses as classes, so the pattern reads the same on every engine -#}
        {{ regexp_replace_all(
            regexp_replace_all('reason', "concat(': ', chr(39), '[^', chr(39), ']*', chr(39))", "''"),
            "' [(]lines [0-9, ]+[)]'", "''"
        ) }} as rule
    from rejects
),

final as (
    select
        file_name,
        entity,
        rule,
        count(*) as rejected_rows,
        min(line_number) as first_line_number
    from ruled
    group by
        file_name,
        entity,
        rule
)

select * from final
