{#- No two rows share the values of `columns` (a composite key). On the
    staging views, an incremental build judges the rows landed since the last
    build (dbt_project.yml, data_tests): where a new duplicate can be, since
    their keys include the file and every row of a file lands at once. -#}
{% test unique_combination(model, columns) %}

with

grouped as (
    select
        {{ columns | join(', ') }},
        count(*) as row_count
    from {{ model }}
    group by {{ columns | join(', ') }}
)

select * from grouped
where row_count > 1

{% endtest %}
