{#- How the queue changed since the previous build: referrals new to the
    queue, referrals that left it (resolved), and those whose action changed,
    by action of the latest build (resolved rows carry their previous action). -#}
with

history as (
    select * from {{ ref('referral_queue_history') }}
),

distinct_builds as (
    select distinct built_at from history
),

builds as (
    select
        built_at,
        row_number() over (order by built_at desc) as recency
    from distinct_builds
),

build_times as (
    select
        max(case when recency = 1 then built_at end) as built_at,
        max(case when recency = 2 then built_at end) as previous_built_at
    from builds
),

latest as (
    select history.*
    from history
    inner join builds
        on history.built_at = builds.built_at
        and builds.recency = 1
),

previous as (
    select history.*
    from history
    inner join builds
        on history.built_at = builds.built_at
        and builds.recency = 2
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
