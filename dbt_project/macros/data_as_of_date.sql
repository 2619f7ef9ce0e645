{#- The data's own as-of date (docs/metrics.md, Parameters): the greatest
    calendar date of any `updated_at` of loaded rows of referrals,
    appointments and claims, all versions. With `landed_through`, of the rows
    landed by then: the date an earlier build derived. A query with one
    column, `data_as_of_date`. -#}
{% macro data_as_of_date(landed_through=none) -%}
    select max(cast(updated_at as date)) as data_as_of_date
    from (
        {%- for entity in ['referrals', 'appointments', 'claims'] %}
        select updated_at from {{ ref('stg_extracts__' ~ entity) }}
        {%- if landed_through is not none %} where loaded_at <= {{ landed_through }}{% endif %}
        {{- ' union all' if not loop.last }}
        {%- endfor %}
    ) as versions
{%- endmacro %}
