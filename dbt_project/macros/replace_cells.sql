{#- Aggregates kept by cell on DuckDB: a daily build computes again only the
    cells (a created month, specialty group, referring practice, payer and
    priority, or the coarser cells of a model grouped by some of them) that a
    referral in int_referral_scope falls in, as this build computed it
    (marts.fct_referrals) or as the last build had it
    (int_referrals_replaced); every other cell's row stays. A cell's row is
    computed from every referral in it, so counts, rates and percentiles are
    exact, as a full build computes them. A cell no referral falls in any
    more loses its row. On other engines the models are tables, computed
    whole. -#}

{%- macro referral_cell_columns() -%}
    {{ return(['created_month', 'specialty_group', 'referring_location_id', 'payer_id', 'priority']) }}
{%- endmacro %}


{#- The config of a model kept by cell, grouped by `dimensions` (some of
    referral_cell_columns()). `cells_model` names the model of the cells in
    scope (the publication reads it from the manifest). -#}
{% macro replace_cells_config(dimensions) -%}
    {%- if target.type == 'duckdb' -%}
        {{ config(materialized='incremental', incremental_strategy='replace_cells',
                  cell_columns=dimensions, cells_model='int_referral_scope_cells', on_schema_change='fail') }}
    {%- else -%}
        {{ config(materialized='table') }}
    {%- endif -%}
{%- endmacro %}


{#- The cells, by `dimensions`, of the referrals in scope, before and after
    (int_referral_scope_cells). -#}
{% macro referral_cells_in_scope(dimensions) -%}
    select distinct {{ dimensions | join(', ') }}
    from {{ ref('int_referral_scope_cells') }}
{%- endmacro %}


{#- The rows of `relation` (an alias) in the cells in scope, null-safe: a
    cell with no payer is a cell. -#}
{% macro in_cells_condition(dimensions, relation) -%}
    exists (
        select 1
        from ({{ referral_cells_in_scope(dimensions) }}) as scope_cells
        where {% for dimension in dimensions -%}
            scope_cells.{{ dimension }} is not distinct from {{ relation }}.{{ dimension }}
            {%- if not loop.last %} and {% endif %}
        {%- endfor %}
    )
{%- endmacro %}


{#- On an incremental build of a model kept by cell, the filter that keeps
    the rows in the cells in scope; nothing otherwise. -#}
{% macro in_cells(dimensions, relation, connector='where') -%}
    {%- if is_incremental() -%}
    {{ connector }} {{ in_cells_condition(dimensions, relation) }}
    {%- endif -%}
{%- endmacro %}


{#- The incremental strategy: the rows of the cells in scope go, the cells'
    new rows come in. -#}
{% macro get_incremental_replace_cells_sql(arg_dict) %}
    {%- set dimensions = config.require('cell_columns') -%}
    {%- set columns = get_quoted_csv(arg_dict['dest_columns'] | map(attribute='name')) -%}
    delete from {{ arg_dict['target_relation'] }} as target
    where {{ in_cells_condition(dimensions, 'target') }};

    insert into {{ arg_dict['target_relation'] }} ({{ columns }})
    select {{ columns }} from {{ arg_dict['temp_relation'] }}
{% endmacro %}
