{#- Referrals that duplicate an earlier one: another eligible referral of the
    same patient and specialty group has a strictly earlier created_at and a
    created_date at most `duplicate_window_days` days before this one's. -#}
{{ config(materialized='view') }}
with

referrals as (
    select * from {{ ref('int_referrals_eligible') }}
),

earlier_pairs as (
    select
        later.referral_id
    from referrals as later
    inner join referrals as earlier
        on later.patient_id = earlier.patient_id
        and later.specialty_group = earlier.specialty_group
        and earlier.created_at < later.created_at
        and {{ days_between('earlier.created_date', 'later.created_date') }} <= {{ var('duplicate_window_days') }}
),

final as (
    select distinct referral_id
    from earlier_pairs
)

select * from final
