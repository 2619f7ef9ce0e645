{#- On an incremental DuckDB build, a SQL expression for the time after
    which landed rows are new to this build: the start of the last build on
    this target (raw._builds, written by the pipeline, which lands and builds
    one run at a time; the landed-table checks draw the same line,
    docs/data-quality.md). None on a full build, on Spark, or with no build
    recorded: then everything is judged. -#}
{% macro landed_since() %}
    {{ return(last_build_time('started_at')) }}
{% endmacro %}

{#- The same, for the end of the last build: rows an incremental model wrote
    after it (its `_built_at`) were written by this build. -#}
{% macro built_since() %}
    {{ return(last_build_time('finished_at')) }}
{% endmacro %}

{% macro last_build_time(column) %}
    {%- if not execute or flags.FULL_REFRESH or target.type != 'duckdb' -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set builds = adapter.get_relation(database=target.database, schema='raw', identifier='_builds') -%}
    {%- if builds is none -%}
        {{ return(none) }}
    {%- endif -%}
    {{ return(timestamp_literal("select max(" ~ column ~ ") from " ~ builds
                                ~ " where target = '" ~ target.name ~ "'")) }}
{% endmacro %}

{#- The one timestamp `query` returns, as a SQL literal (1900-01-01 when null):
    a scan filtered on a literal skips the row groups older than it (DuckDB
    zone maps), which a scalar subquery does not. -#}
{% macro timestamp_literal(query) %}
    {%- set value = run_query(query).columns[0].values()[0] if execute else none -%}
    {{ return("cast('" ~ (value or '1900-01-01') ~ "' as timestamp)") }}
{% endmacro %}
