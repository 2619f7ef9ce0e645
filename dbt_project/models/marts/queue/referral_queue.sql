{#- The referral work list as of T: every open referral (latest status active
    or on-hold) with the action a coordinator (or an EMR bulk-update job)
    should take, why, and where to send it. Patient-level: for care
    coordinators, not executive views. -#}
with

actions as (
    select * from {{ ref('int_referral_queue_actions') }}
),

routed as (
    select * from {{ ref('int_referral_queue_routed') }}
),

referrals as (
    select * from {{ ref('fct_referrals') }}
),

final as (
    select
        actions.referral_id,
        referrals.patient_key,
        referrals.specialty_group,
        referrals.requested_specialty_code,
        referrals.referring_location_id,
        referrals.referring_npi,
        actions.referred_to_npi,
        referrals.referral_status,
        referrals.priority,
        referrals.payer_id,
        actions.created_date,
        actions.expires_on,
        cast(actions.days_open as integer) as days_open,
        actions.outcome,
        actions.action,
        actions.reason,
        referrals.is_duplicate,
        routed.recommended_npi,
        routed.recommended_next_free_slot_at,
        routed.is_recommended_same_zip3,
        actions.first_visit_date,
        actions.first_visit_npi,
        actions.last_touch_at,
        actions.as_of_date
    from actions
    inner join referrals
        on actions.referral_id = referrals.referral_id
    left join routed
        on actions.referral_id = routed.referral_id
)

select * from final
