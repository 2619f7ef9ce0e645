{#- An incremental strategy (DuckDB): replace every row of the patients in
    scope. The model's `patient_scope` config names a model with one
    `patient_id` column; on an incremental build the model computes the rows
    of exactly those patients. All their current rows go, rows that no longer
    exist included (which a merge on the row's key would leave behind), and
    the new rows come in; other patients' rows are not touched. Used by
    int_care_evidence_attributed. -#}
{% macro get_incremental_replace_patients_sql(arg_dict) %}
    {%- set scope = ref(config.require('patient_scope')) -%}
    {%- set columns = get_quoted_csv(arg_dict['dest_columns'] | map(attribute='name')) -%}
    delete from {{ arg_dict['target_relation'] }}
    where patient_id in (select patient_id from {{ scope }});

    insert into {{ arg_dict['target_relation'] }} ({{ columns }})
    select {{ columns }} from {{ arg_dict['temp_relation'] }}
{% endmacro %}
