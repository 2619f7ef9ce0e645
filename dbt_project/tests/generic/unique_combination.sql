{#- No two rows share the values of `columns` (a composite key). -#}
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
