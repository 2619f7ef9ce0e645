{#- Booked appointments (docs/metrics.md): latest version with status booked,
    arrived, checked-in, fulfilled, noshow or cancelled (it held a slot).
    Attended: fulfilled, arrived or checked-in, dated on or before T. -#}
{{ config(materialized='view') }}
with

appointments as (
    select * from {{ ref('int_appointments_deduplicated') }}
),

parameters as (
    select * from {{ ref('int_parameters') }}
),

booked as (
    select
        appointments.appointment_id,
        appointments.patient_id,
        appointments.provider_npi,
        appointments.referral_id,
        appointments.specialty_group as visit_specialty_group,
        appointments.status,
        appointments.booked_at,
        appointments.start_at,
        cast(appointments.start_at as date) as start_date,
        {{ is_attended_appointment('appointments.status', 'cast(appointments.start_at as date)', 'parameters.as_of_date') }}
            as is_attended
    from appointments
    cross join parameters
    where {{ is_booked_appointment('appointments.status') }}
),

final as (
    select * from booked
)

select * from final
