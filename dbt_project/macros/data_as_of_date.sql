{#- The data's own as-of date (docs/metrics.md, Parameters): the greatest
    calendar date of any `updated_at` of loaded rows of referrals,
    appointments and claims, all versions. With `landed_through`, of the rows
    landed by then: the date an earlier build derived. A query with one
    column, `data_as_of_date`. Reads the landed tables themselves: staging
    passes `updated_at` through unchanged, and its joins (specialty groups)
    would cost a scan of every landed claim line each time. -#}
{% macro data_as_of_date(landed_through=none) -%}
    select max(cast(updated_at as date)) as data_as_of_date
    from (
        {%- for entity in ['referrals', 'appointments', 'claims'] %}
        select updated_at from {{ source('raw', entity) }}
        {%- if landed_through is not none %} where _loaded_at <= {{ landed_through }}{% endif %}
        {{- ' union all' if not loop.last }}
        {%- endfor %}
    ) as versions
{%- endmacro %}


{#- On an incremental build: the dates whose standing moved with T, as one
    row (after_date, through_date), after_date < d <= through_date, between
    the T of the last build (the same var, else derived from the versions
    landed before it started, `landed`) and this build's T, from the calling
    model's `parameters` CTE (int_parameters). -#}
{% macro as_of_dates_moved(landed) -%}
    select
        case
            when previous.as_of_date is null then cast('1900-01-01' as date)
            else least(previous.as_of_date, parameters.as_of_date)
        end as after_date,
        greatest(coalesce(previous.as_of_date, parameters.as_of_date), parameters.as_of_date) as through_date
    from (
        {% if var('as_of_date') -%}
        select cast('{{ var("as_of_date") }}' as date) as as_of_date
        {%- else -%}
        select data_as_of_date as as_of_date from ({{ data_as_of_date(landed_through=landed) }}) as derived
        {%- endif %}
    ) as previous
    cross join parameters
{%- endmacro %}
