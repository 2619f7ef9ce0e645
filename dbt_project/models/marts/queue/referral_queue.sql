{#- The referral work list as of T: every open referral (latest status active
    or on-hold) with the action a coordinator (or an EMR bulk-update job)
    should take, why, and where to send it. Patient-level: for care
    coordinators, not executive views.
    On DuckDB a view: the stored rows (int_referral_queue_rows, kept
    incrementally) with days_open and T added, so a daily build does not
    write every open referral again for the day T moved. The serving copy
    holds the view and the two tables it reads (pipelines/defs/publish).
    A table on other engines. -#}
{{ config(materialized='view' if target.type == 'duckdb' else 'table') }}
with

queue_rows as (
    select * from {{ ref('int_referral_queue_rows').include(database=false) }}
),

parameters as (
    select * from {{ ref('int_parameters').include(database=false) }}
),

final as (
    select
        queue_rows.referral_id,
        queue_rows.patient_key,
        queue_rows.specialty_group,
        queue_rows.requested_specialty_code,
        queue_rows.referring_location_id,
        queue_rows.referring_npi,
        queue_rows.referred_to_npi,
        queue_rows.referral_status,
        queue_rows.priority,
        queue_rows.payer_id,
        queue_rows.created_date,
        queue_rows.expires_on,
        cast({{ days_between('queue_rows.created_date', 'parameters.as_of_date') }} as integer) as days_open,
        queue_rows.outcome,
        queue_rows.action,
        queue_rows.reason,
        queue_rows.is_duplicate,
        queue_rows.recommended_npi,
        queue_rows.recommended_next_free_slot_at,
        queue_rows.is_recommended_same_zip3,
        queue_rows.first_visit_date,
        queue_rows.first_visit_npi,
        queue_rows.last_touch_at,
        parameters.as_of_date
    from queue_rows
    cross join parameters
)

select * from final
