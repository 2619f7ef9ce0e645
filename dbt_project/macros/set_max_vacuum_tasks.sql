{#- On DuckDB, the build's max_vacuum_tasks (a global setting: every
    connection of the build): 0 on most incremental builds, so a checkpoint
    keeps the rows deleted in place instead of rewriting the tables around
    them; 100 (DuckDB's default) otherwise. The pipeline decides and passes
    it as REFLOOP_VACUUM_TASKS (pipelines/defs/transform/dbt.py, plan_vacuum;
    docs/deploy.md). Read when the hook runs, not when dbt parses: the parse
    does not depend on it, so builds with either setting share it. -#}
{% macro set_max_vacuum_tasks() %}
    {%- if execute and target.type == 'duckdb' -%}
        set max_vacuum_tasks = {{ env_var('REFLOOP_VACUUM_TASKS', '100') | int }}
    {%- endif -%}
{% endmacro %}
