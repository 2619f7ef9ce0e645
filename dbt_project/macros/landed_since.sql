{#- On an incremental DuckDB build, a SQL expression for the time after
    which landed rows are new to this build: the start of the last build on
    this target (raw._builds, written by the pipeline, which lands and builds
    one run at a time; the landed-table checks draw the same line,
    docs/data-quality.md). None on a full build, on Spark, or with no build
    recorded: then everything is judged. -#}
{% macro landed_since() %}
    {%- if not execute or flags.FULL_REFRESH or target.type != 'duckdb' -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set builds = adapter.get_relation(database=target.database, schema='raw', identifier='_builds') -%}
    {%- if builds is none -%}
        {{ return(none) }}
    {%- endif -%}
    {{ return("(select coalesce(max(started_at), cast('1900-01-01' as timestamp)) from "
              ~ builds ~ " where target = '" ~ target.name ~ "')") }}
{% endmacro %}
