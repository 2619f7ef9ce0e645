{#- Outreach per referral: all its engagements (reminders included), also
    those dated before the referral was created. Each engagement's cost
    (cost_amount, else the configured cost of its channel) comes from
    int_engagements_sequenced, the one place that rule is written. -#}
{{ config(materialized='view') }}
with

engagements as (
    select * from {{ ref('int_engagements_sequenced') }}
),

final as (
    select
        referral_id,
        count(*) as engagement_count,
        sum(engagement_cost) as engagement_cost,
        min(occurred_at) as first_contact_at
    from engagements
    group by referral_id
)

select * from final
