{#- No two rows share the values of `columns` (a composite key).

    `landed_column`: the column holding when a row was landed, for keys that
    include the file (every row of one file is landed at once). An
    incremental build then judges only the rows landed since the last build
    (macros/landed_since.sql), which is where a new duplicate can be; a full
    build judges every row. -#}
{% test unique_combination(model, columns, landed_column=none) %}

{%- set since = landed_since() if landed_column else none %}

with

judged as (
    select * from {{ model }}
    {%- if since %}
    where {{ landed_column }} > {{ since }}
    {%- endif %}
),

grouped as (
    select
        {{ columns | join(', ') }},
        count(*) as row_count
    from judged
    group by {{ columns | join(', ') }}
)

select * from grouped
where row_count > 1

{% endtest %}
