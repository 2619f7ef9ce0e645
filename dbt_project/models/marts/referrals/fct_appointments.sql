{#- One row per booked appointment, with the referral it is attributed to
    (docs/metrics.md, marts.fct_appointments).
    Kept incrementally on DuckDB: a daily build computes the appointments of
    the patients attributed again (int_care_evidence_attribution_scope) and
    replaces those patients' rows, by patient_key
    (int_care_evidence_scope_keys; macros/replace_scope.sql). -#}
-- depends_on: {{ ref('int_care_evidence_scope_keys') }}, {{ ref('int_care_evidence_attribution_scope') }}
{{ replace_scope_config('int_care_evidence_scope_keys', 'patient_key') }}
with

appointments as (
    select * from {{ ref('int_appointments_booked') }}
    {{ in_scope('patient_id', 'int_care_evidence_attribution_scope') }}
),

evidence as (
    select * from {{ ref('int_care_evidence_attributed') }}
    where evidence_type = 'appointment'
    {{ in_scope('patient_id', 'int_care_evidence_attribution_scope', 'and') }}
),

warehouse_key as (
    select * from {{ ref('stg_extracts__warehouse_key') }}
),

final as (
    select
        appointments.appointment_id,
        evidence.attributed_referral_id as referral_id,
        evidence.attribution_method,
        {{ patient_key('appointments.patient_id', 'warehouse_key.secret') }} as patient_key,
        appointments.provider_npi,
        evidence.specialty_group,
        appointments.status,
        appointments.booked_at,
        appointments.start_at,
        appointments.start_date,
        appointments.is_attended,
        evidence.is_in_network
    from appointments
    cross join warehouse_key
    inner join evidence
        on appointments.appointment_id = evidence.evidence_id
)

select * from final
