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
