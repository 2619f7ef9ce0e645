{#- dbt's test filter (a test's `where` config), with one placeholder:
    `__landed_since_last_build__` becomes `loaded_at > <start of the last
    build>` on an incremental DuckDB build (macros/landed_since.sql) and
    `1 = 1` otherwise, so a test under it judges the rows landed since then
    (dbt_project.yml, data_tests). -#}
{% macro get_where_subquery(relation) -%}
    {%- set where = config.get('where') -%}
    {%- if where and '__landed_since_last_build__' in where -%}
        {%- set since = landed_since() -%}
        {%- set where = where | replace('__landed_since_last_build__',
                                        'loaded_at > ' ~ since if since else '1 = 1') -%}
    {%- endif -%}
    {%- if where -%}
        {%- set filtered -%}
            (select * from {{ relation }} where {{ where }}) dbt_subquery
        {%- endset -%}
        {{ return(filtered) }}
    {%- else -%}
        {{ return(relation) }}
    {%- endif -%}
{%- endmacro %}
