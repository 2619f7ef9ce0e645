{#- The rows of marts.referral_queue but for the two columns that move with
    T every day (days_open, as_of_date, which the mart adds): each open
    referral's action and reason, its referral's attributes and its
    recommended provider. Kept incrementally on DuckDB by the referrals in
    int_referral_queue_scope (macros/replace_scope.sql), so a daily build
    writes the rows that changed, not the whole work list. -#}
-- depends_on: {{ ref('int_referral_queue_scope') }}
{{ replace_scope_config('int_referral_queue_scope', 'referral_id') }}
with

actions as (
    select * from {{ ref('int_referral_queue_actions') }}
    {{ in_scope('referral_id', 'int_referral_queue_scope') }}
),

routed as (
    select * from {{ ref('int_referral_queue_routed') }}
    {{ in_scope('referral_id', 'int_referral_queue_scope') }}
),

referrals as (
    select * from {{ ref('fct_referrals') }}
    {{ in_scope('referral_id', 'int_referral_queue_scope') }}
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
        actions.outcome,
        actions.action,
        actions.reason,
        referrals.is_duplicate,
        routed.recommended_npi,
        routed.recommended_next_free_slot_at,
        routed.is_recommended_same_zip3,
        actions.first_visit_date,
        actions.first_visit_npi,
        actions.last_touch_at
    from actions
    inner join referrals
        on actions.referral_id = referrals.referral_id
    left join routed
        on actions.referral_id = routed.referral_id
)

select * from final
