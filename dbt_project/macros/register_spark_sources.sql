{#- On Spark, declare every `raw` source table over the Parquet files the run
    exported to REFLOOP_SPARK_DIR/raw/<table>/ (pipelines/defs/transform/spark.py).
    Dropping an external table keeps its files; re-creating it picks up the
    newest export. Nothing happens on other engines. -#}
{% macro register_spark_sources() %}
    {%- if target.type == 'spark' and execute %}
        {%- set root = env_var('REFLOOP_SPARK_DIR', '../data/spark') ~ '/raw' %}
        {%- do run_query('create database if not exists raw') %}
        {%- for node in graph.sources.values() if node.source_name == 'raw' %}
            {%- do run_query('drop table if exists raw.' ~ node.name) %}
            {%- do run_query("create table raw." ~ node.name ~ " using parquet location '" ~ root ~ "/" ~ node.name ~ "'") %}
        {%- endfor %}
    {%- endif %}
{% endmacro %}
