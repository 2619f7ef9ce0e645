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
    landed before it started, `landed`) and this build's T, from a
    `parameters` CTE (int_parameters). Models use moved_dates below. -#}
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


{#- as_of_dates_moved(landed) as two date literals, {after_date, through_date},
    queried when the calling model compiles (int_parameters is built by then).
    A daily scope that filters a large table on constants lets DuckDB apply the
    filter in the scan, reading the other columns only where it matches; a
    cross join with a one-row CTE reads every row's columns first. -#}
{% macro moved_dates(landed) -%}
    {%- set dates = {'after_date': "cast('1900-01-01' as date)", 'through_date': "cast('1900-01-01' as date)"} -%}
    {%- if execute -%}
        {%- set query -%}
            with parameters as (select * from {{ ref('int_parameters') }})
            {{ as_of_dates_moved(landed) }}
        {%- endset -%}
        {%- set row = run_query(query).rows[0] -%}
        {%- do dates.update({'after_date': "cast('" ~ row[0] ~ "' as date)",
                             'through_date': "cast('" ~ row[1] ~ "' as date)"}) -%}
    {%- endif -%}
    {{ return(dates) }}
{%- endmacro %}


{#- A timestamp column's calendar date is between two date expressions, both
    included, as a range on the column itself (a filter on
    cast(column as date) is not one DuckDB applies in the scan). -#}
{% macro date_of_between(column, first, last) -%}
    ({{ column }} >= cast({{ first }} as timestamp) and {{ column }} < cast({{ last }} + 1 as timestamp))
{%- endmacro %}
