{#- The funnel per created month and specialty group: referred -> contacted
    -> scheduled -> visit completed -> loop closed, with how many dropped off
    at each stage. Stages are nested sets, counted in referral_aggregate:
    - contacted: an outreach touch, or a booking (booking implies contact);
    - scheduled: `is_scheduled`;
    - visit completed: outcome completed in or out of network;
    - loop closed: completed in network with a consult report received. -#}
with

monthly as (
    select * from {{ ref('agg_referrals_monthly') }}
),

stages as (
    select
        created_month,
        specialty_group,
        referrals as referred,
        contacted,
        scheduled,
        visit_completed,
        coalesce(loop_closed_in_network, 0) as loop_closed
    from monthly
),

long as (
    select created_month, specialty_group, 1 as stage_order, 'referred' as stage,
        referred as referrals, 0 as dropped_off
    from stages
    union all
    select created_month, specialty_group, 2 as stage_order, 'contacted' as stage,
        contacted as referrals, referred - contacted as dropped_off
    from stages
    union all
    select created_month, specialty_group, 3 as stage_order, 'scheduled' as stage,
        scheduled as referrals, contacted - scheduled as dropped_off
    from stages
    union all
    select created_month, specialty_group, 4 as stage_order, 'visit_completed' as stage,
        visit_completed as referrals, scheduled - visit_completed as dropped_off
    from stages
    union all
    select created_month, specialty_group, 5 as stage_order, 'loop_closed' as stage,
        loop_closed as referrals, visit_completed - loop_closed as dropped_off
    from stages
),

final as (
    select
        created_month,
        specialty_group,
        cast(stage_order as integer) as stage_order,
        stage,
        cast(referrals as integer) as referrals,
        cast(dropped_off as integer) as dropped_off
    from long
)

select * from final
