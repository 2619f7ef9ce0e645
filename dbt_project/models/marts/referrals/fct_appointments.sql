{#- One row per booked appointment, with the referral it is attributed to
    (docs/metrics.md, marts.fct_appointments). -#}
with

appointments as (
    select * from {{ ref('int_appointments_booked') }}
),

evidence as (
    select * from {{ ref('int_care_evidence_attributed') }}
    where evidence_type = 'appointment'
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
