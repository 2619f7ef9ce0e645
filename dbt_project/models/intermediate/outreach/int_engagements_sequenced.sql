{#- Every engagement with its cost and its place in the referral's outreach.
    Outreach touches are those whose purpose is not `reminder` (a reminder
    follows a booking; it does not seek one): they are numbered 1, 2, 3... in
    time order (ties by engagement_id). A touch is an escalation when it is the
    referral's first phone call and came after at least one other touch.
    Kept incrementally on DuckDB: a daily build numbers again the engagements
    of the referrals in int_referral_scope_changes (those with an engagement
    that has a new version, before and after) and replaces their rows
    (macros/replace_scope.sql). -#}
-- depends_on: {{ ref('int_referral_scope_changes') }}
{{ replace_scope_config('int_referral_scope_changes', 'referral_id') }}
with

engagements as (
    select * from {{ ref('int_engagements_deduplicated') }}
    {{ in_scope('referral_id', 'int_referral_scope_changes') }}
),

channel_costs as (
    select * from {{ ref('int_channel_costs') }}
),

costed as (
    select
        engagements.engagement_id,
        engagements.referral_id,
        engagements.occurred_at,
        engagements.channel,
        engagements.purpose,
        engagements.outcome,
        coalesce(engagements.cost_amount, channel_costs.cost_per_touch) as engagement_cost,
        coalesce(engagements.purpose, '') <> 'reminder' as is_outreach_touch,
        case
            when engagements.channel = 'phone' then 'phone'
            when engagements.channel = 'ivr' then 'automated_call'
            else 'digital'
        end as channel_kind
    from engagements
    left join channel_costs
        on engagements.channel = channel_costs.channel
),

numbered as (
    select
        costed.*,
        case when is_outreach_touch then row_number() over (
            partition by referral_id, is_outreach_touch order by occurred_at, engagement_id
        ) end as touch_number
    from costed
),

first_phone as (
    select
        referral_id,
        min(touch_number) as first_phone_touch_number
    from numbered
    where is_outreach_touch and channel = 'phone'
    group by referral_id
),

final as (
    select
        numbered.engagement_id,
        numbered.referral_id,
        numbered.occurred_at,
        numbered.channel,
        numbered.channel_kind,
        numbered.purpose,
        numbered.outcome,
        numbered.engagement_cost,
        numbered.is_outreach_touch,
        numbered.touch_number,
        coalesce(numbered.touch_number = first_phone.first_phone_touch_number and numbered.touch_number > 1, false)
            as is_escalation_to_phone
    from numbered
    left join first_phone
        on numbered.referral_id = first_phone.referral_id
)

select * from final
