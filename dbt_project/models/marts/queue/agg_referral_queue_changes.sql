{#- How the queue changed since the previous build: referrals new to the
    queue, referrals that left it (resolved), and those whose action changed,
    by action of the latest build (resolved rows carry their previous action).
    Read from the queue's log (int_referral_queue_log): each referral's last
    logged action as of the latest build and as of the one before it. -#}
with

log as (
    select * from {{ ref('int_referral_queue_log') }}
),

builds as (
    select
        built_at,
        row_number() over (order by built_at desc) as recency
    from log
    where referral_id is null
),

build_times as (
    select
        max(case when recency = 1 then built_at end) as built_at,
        max(case when recency = 2 then built_at end) as previous_built_at
    from builds
),

logged as (
    select referral_id, action, built_at
    from log
    where referral_id is not null
),

{#- Each referral's last logged action as of each of the two builds (a null
    action: it had left the queue). -#}
latest as (
    select referral_id, action
    from (
        select
            referral_id,
            action,
            row_number() over (partition by referral_id order by built_at desc) as recency
        from logged
    ) as ranked
    where recency = 1
        and action is not null
),

previous as (
    select referral_id, action
    from (
        select
            logged.referral_id,
            logged.action,
            row_number() over (partition by logged.referral_id order by logged.built_at desc) as recency
        from logged
        cross join build_times
        where logged.built_at <= build_times.previous_built_at
    ) as ranked
    where recency = 1
        and action is not null
),

compared as (
    select
        coalesce(latest.action, previous.action) as action,
        case
            when previous.referral_id is null then 'new'
            when latest.referral_id is null then 'resolved'
            when latest.action != previous.action then 'action_changed'
            else 'unchanged'
        end as change
    from latest
    full outer join previous
        on latest.referral_id = previous.referral_id
),

final as (
    select
        build_times.built_at,
        build_times.previous_built_at,
        compared.action,
        compared.change,
        cast(count(*) as integer) as referrals
    from compared
    cross join build_times
    group by
        build_times.built_at,
        build_times.previous_built_at,
        compared.action,
        compared.change
)

select * from final
