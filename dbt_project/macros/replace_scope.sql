{#- An incremental strategy (DuckDB): replace every row of the keys in scope.
    The model's `scope_model` config names a model with one column named as
    its `scope_key` config (`patient_id`, `referral_id`); on an incremental
    build the model computes the rows of exactly those keys. All their current
    rows go, rows that no longer exist included (which a merge on the row's
    key would leave behind), and the new rows come in; the other keys' rows
    are not touched. Used by int_care_evidence_attributed (by patient) and
    the per-referral models (by referral; int_referral_scope). -#}
{% macro get_incremental_replace_scope_sql(arg_dict) %}
    {%- set scope = ref(config.require('scope_model')) -%}
    {%- set key = config.require('scope_key') -%}
    {%- set columns = get_quoted_csv(arg_dict['dest_columns'] | map(attribute='name')) -%}
    delete from {{ arg_dict['target_relation'] }}
    where {{ key }} in (select {{ key }} from {{ scope }});

    insert into {{ arg_dict['target_relation'] }} ({{ columns }})
    select {{ columns }} from {{ arg_dict['temp_relation'] }}
{% endmacro %}


{#- A model kept with replace_scope on DuckDB, by the keys in `scope_model`
    (the model also names it in a `-- depends_on:` line, so it is built
    first); a table on other engines, computed whole. -#}
{% macro replace_scope_config(scope_model, scope_key) -%}
    {%- if target.type == 'duckdb' -%}
        {{ config(materialized='incremental', incremental_strategy='replace_scope',
                  scope_model=scope_model, scope_key=scope_key, on_schema_change='fail') }}
    {%- else -%}
        {{ config(materialized='table') }}
    {%- endif -%}
{%- endmacro %}


{#- On an incremental build of a replace_scope model, the filter that keeps
    the rows of the keys in `scope_model` (one column; `column` holds the
    key); nothing otherwise. `connector`: `where`, or `and` after a where.
    With `relation`, the one relation the filtered query reads: when it is a
    stored table, its rows are found by row id (rows_with_keys below). A unit
    test's given rows are not a stored table: they are filtered on the key.
    `written`: `relation` is itself kept with replace_scope on the same scope
    and its rows carry `_built_at`, so its rows of the keys in scope are
    among the ones this build wrote (`_built_at` after the last build ended,
    macros/landed_since.sql): a filter DuckDB applies to the row groups'
    min and max (zone maps), which skips the history without reading it.
    The key is still looked up, in what is left (a build run outside the
    pipeline is not recorded: its rows would pass the time alone). -#}
{% macro in_scope(column, scope_model, connector='where', relation=none, written=false) -%}
    {%- if is_incremental() -%}
    {%- set stored = adapter.get_relation(database=relation.database, schema=relation.schema,
                                          identifier=relation.identifier)
                     if relation is not none and relation.schema is not none else none -%}
    {%- set built = built_since() if written and stored is not none else none -%}
    {%- if built is not none -%}
    {{ connector }} _built_at > {{ built }} and {{ column }} in (select * from {{ ref(scope_model) }})
    {%- else -%}
    {{ connector }} {{ rows_with_keys(stored if stored is not none and stored.type == 'table' and not written else none,
                                      column, 'select * from ' ~ ref(scope_model)) }}
    {%- endif -%}
    {%- endif -%}
{%- endmacro %}


{#- A filter on `relation`'s rows whose `column` is among the keys `keys`
    (a query) returns. On DuckDB, with `relation` a stored table, by row id:
    the keys are looked up in a scan of `column` alone, and DuckDB reads the
    other columns of the rows found only, where a semi-join on the key reads
    every column of every row first. Otherwise (`relation` none, or Spark) a
    filter on the key. -#}
{% macro rows_with_keys(relation, column, keys) -%}
    {%- if relation is not none and target.type == 'duckdb' -%}
    rowid in (select rowid from {{ relation }} where {{ column }} in ({{ keys }}))
    {%- else -%}
    {{ column }} in ({{ keys }})
    {%- endif -%}
{%- endmacro %}
