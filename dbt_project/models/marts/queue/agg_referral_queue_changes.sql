{#- How the queue changed since the previous build: referrals new to the
    queue, referrals that left it (resolved), and those whose action changed,
    by action of the latest build (resolved rows carry their previous action).
    Read from the queue's log (int_referral_queue_log): the referrals the
    latest build logged, against their last logged action before it; every
    other referral of the latest build's queue (int_referral_queue_rows, the
    queue the log was compared with) is unchanged. -#}
with

log as (
    select * from {{ ref('int_referral_queue_log') }}
),

queue as (
    select referral_id, action from {{ ref('int_referral_queue_rows') }}
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

logged_now as (
    select log.referral_id, log.action
    from log
    inner join build_times
        on log.built_at = build_times.built_at
    where log.referral_id is not null
),

-- what the log said about those referrals as of the build before
logged_before as (
    select log.referral_id, log.action, log.built_at
    from log
    cross join build_times
    where log.referral_id in (select referral_id from logged_now)
        and log.built_at <= build_times.previous_built_at
),

previous as (
    {{ queue_last_logged('logged_before') }}
),

logged_changes as (
    select
        coalesce(logged_now.action, previous.action) as action,
        case
            when previous.referral_id is null then 'new'
            when logged_now.action is null then 'resolved'
            else 'action_changed'
        end as change
    from logged_now
    left join previous
        on logged_now.referral_id = previous.referral_id
    -- (a referral logged as left was in the queue before: never both null)
    where logged_now.action is not null
        or previous.referral_id is not null
),

unchanged as (
    select
        queue.action,
        'unchanged' as change
    from queue
    where queue.referral_id not in (select referral_id from logged_now)
),

compared as (
    select action, change from logged_changes
    union all
    select action, change from unchanged
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
