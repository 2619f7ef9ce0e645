{#- The patient_key of each patient in int_care_evidence_attribution_scope:
    the scope of marts.fct_appointments, whose rows carry the surrogate key,
    not the patient id (macros/replace_scope.sql). An appointment's row
    changes only with its patient's attribution: a new version of it, a
    directory change, T passing its date or a change to the referrals it can
    be attributed to all put its patient in that scope. Empty on a full build
    and on Spark. -#}
with

scope as (
    select * from {{ ref('int_care_evidence_attribution_scope') }}
),

warehouse_key as (
    select * from {{ ref('stg_extracts__warehouse_key') }}
),

final as (
    select {{ patient_key('scope.patient_id', 'warehouse_key.secret') }} as patient_key
    from scope
    cross join warehouse_key
)

select * from final
