{#- The queue's history as its changes: per build, one row for the build
    itself (referral_id null: when it ran and its T) and one row per referral
    whose action differs from the last one logged for it (action null: it
    left the queue). Appended, never rewritten: marts.referral_queue_history
    (every build's whole queue) and marts.agg_referral_queue_changes are read
    from it, so a daily build stores the few thousand rows that changed, not
    a copy of every open referral.

    The build's queue is compared with the log's own last word on each
    referral. On a daily DuckDB build only the referrals in
    int_referral_queue_scope are compared: the others' queue rows were not
    written again, so their action is the one logged. A full build, Spark,
    and the log's first build compare the whole queue. A build that fails is
    followed by a full one (pipelines/defs/transform/dbt.py), which logs
    whatever differs. One model, one append: the build's row and its changes
    land together.

    The first build of the log starts from the snapshots a warehouse of
    refloop 0.1 kept in marts.referral_queue_history (a table then), turned
    into the changes between consecutive snapshots, so no history is lost.

    full_refresh=false: a full rebuild of the warehouse keeps this history.
    append_watermark: the serving copy takes the rows built after its newest. -#}
-- depends_on: {{ ref('int_referral_queue_scope') }}
{{ config(materialized='incremental', incremental_strategy='append', on_schema_change='fail',
          append_watermark='built_at', full_refresh=false) }}
{%- set snapshots = none -%}
{%- if execute and not is_incremental() -%}
    {%- set found = adapter.get_relation(database=this.database, schema='marts', identifier='referral_queue_history') -%}
    {%- if found is not none and found.is_table -%}
        {%- set snapshots = found -%}
    {%- endif -%}
{%- endif -%}
{%- set scoped = is_incremental() and target.type == 'duckdb' and not flags.FULL_REFRESH -%}
{%- set compared = "referral_id in (select referral_id from " ~ ref('int_referral_queue_scope') ~ ")"
                  if scoped else "1 = 1" %}

with

queue as (
    select referral_id, action
    from {{ ref('int_referral_queue_rows') }}
    where {{ compared }}
),

parameters as (
    select * from {{ ref('int_parameters') }}
),

{% if snapshots is not none -%}
{#- refloop 0.1's snapshots: each build numbered, then for each referral the
    builds where it entered the queue, changed action or left it. -#}
snapshots as (
    select built_at, as_of_date, referral_id, action from {{ snapshots }}
),

snapshot_builds as (
    select
        built_at,
        as_of_date,
        row_number() over (order by built_at) as build_number
    from (select distinct built_at, as_of_date from snapshots) as distinct_builds
),

numbered as (
    select
        snapshots.referral_id,
        snapshots.action,
        snapshot_builds.build_number
    from snapshots
    inner join snapshot_builds
        on snapshots.built_at = snapshot_builds.built_at
),

sequenced as (
    select
        referral_id,
        action,
        build_number,
        lag(build_number) over (partition by referral_id order by build_number) as previous_build_number,
        lag(action) over (partition by referral_id order by build_number) as previous_action,
        lead(build_number) over (partition by referral_id order by build_number) as next_build_number
    from numbered
),

snapshot_changes as (
    select build_number, referral_id, action
    from sequenced
    where previous_build_number is null
        or previous_build_number < build_number - 1
        or previous_action != action
    union all
    select build_number + 1 as build_number, referral_id, cast(null as {{ dbt.type_string() }}) as action
    from sequenced
    where next_build_number > build_number + 1
        or (next_build_number is null and build_number < (select max(build_number) from snapshot_builds))
),

seeded as (
    select
        built_at,
        as_of_date,
        cast(null as {{ dbt.type_string() }}) as referral_id,
        cast(null as {{ dbt.type_string() }}) as action
    from snapshot_builds
    union all
    select
        snapshot_builds.built_at,
        snapshot_builds.as_of_date,
        snapshot_changes.referral_id,
        snapshot_changes.action
    from snapshot_changes
    inner join snapshot_builds
        on snapshot_changes.build_number = snapshot_builds.build_number
),

last_logged as (
    select snapshots.referral_id, snapshots.action
    from snapshots
    where snapshots.built_at = (select max(built_at) from snapshot_builds)
),
{%- elif is_incremental() %}
logged as (
    select referral_id, action, built_at
    from {{ this }}
    where referral_id is not null
        and {{ compared }}
),

last_logged as (
    {{ queue_last_logged('logged') }}
),
{%- else %}
last_logged as (
    select referral_id, action from queue where 1 = 0
),
{%- endif %}

changed as (
    select
        coalesce(queue.referral_id, last_logged.referral_id) as referral_id,
        queue.action
    from queue
    full outer join last_logged
        on queue.referral_id = last_logged.referral_id
    where queue.referral_id is null
        or last_logged.referral_id is null
        or queue.action != last_logged.action
),

this_build as (
    select
        cast('{{ run_started_at.strftime("%Y-%m-%d %H:%M:%S") }}' as timestamp) as built_at,
        parameters.as_of_date,
        cast(null as {{ dbt.type_string() }}) as referral_id,
        cast(null as {{ dbt.type_string() }}) as action
    from parameters
    union all
    select
        cast('{{ run_started_at.strftime("%Y-%m-%d %H:%M:%S") }}' as timestamp) as built_at,
        parameters.as_of_date,
        changed.referral_id,
        changed.action
    from changed
    cross join parameters
),

final as (
    {%- if snapshots is not none %}
    select * from seeded
    union all
    {%- endif %}
    select * from this_build
)

select * from final
