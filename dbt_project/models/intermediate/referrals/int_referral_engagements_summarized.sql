{#- Outreach per referral: all its engagements, also those dated before the
    referral was created. Cost is the engagement's cost_amount, else the
    configured cost of its channel. -#}
with

engagements as (
    select * from {{ ref('int_engagements_deduplicated') }}
),

channel_costs as (
    select * from {{ ref('int_channel_costs') }}
),

costed as (
    select
        engagements.referral_id,
        engagements.occurred_at,
        coalesce(engagements.cost_amount, channel_costs.cost_per_touch) as engagement_cost
    from engagements
    left join channel_costs
        on engagements.channel = channel_costs.channel
),

final as (
    select
        referral_id,
        count(*) as engagement_count,
        sum(engagement_cost) as engagement_cost,
        min(occurred_at) as first_contact_at
    from costed
    group by referral_id
)

select * from final
