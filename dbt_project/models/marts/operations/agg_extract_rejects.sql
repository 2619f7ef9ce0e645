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
        regexp_replace(
            regexp_replace(reason, ': ''[^'']*''', '', 'g'),
            ' \(lines [0-9, ]+\)', '', 'g'
        ) as rule
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
