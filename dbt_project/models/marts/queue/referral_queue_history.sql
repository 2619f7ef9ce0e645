{#- Every build's queue (referral and action), one snapshot per build: the
    memory behind agg_referral_queue_changes.
    On DuckDB a view over intermediate.int_referral_queue_log, which stores
    only what changed between builds (a few thousand rows a day instead of
    every open referral): each logged action holds from the build that logged
    it until the next change of that referral, and the view lists it under
    every build in between. Filter on built_at to read one build. The serving
    copy holds the view and its own copy of the log (pipelines/defs/publish).
    On other engines the marts come back to DuckDB as tables: there it stays
    the table of refloop 0.1, one snapshot appended per build (full_refresh=false:
    a full rebuild keeps it), built after the log, so the log's first build
    there reads only the snapshots of the builds before. -#}
{%- if target.type == 'duckdb' %}
{{ config(materialized='view') }}
with

log as (
    select * from {{ ref('int_referral_queue_log').include(database=false) }}
),

builds as (
    select built_at, as_of_date
    from log
    where referral_id is null
),

spells as (
    select
        referral_id,
        action,
        built_at as logged_at,
        coalesce(
            lead(built_at) over (partition by referral_id order by built_at),
            cast('9999-12-31 00:00:00' as timestamp)
        ) as superseded_at
    from log
    where referral_id is not null
),

final as (
    select
        builds.built_at,
        builds.as_of_date,
        spells.referral_id,
        spells.action
    from spells
    inner join builds
        on builds.built_at >= spells.logged_at
        and builds.built_at < spells.superseded_at
    where spells.action is not null
)

select * from final
{%- else %}
-- depends_on: {{ ref('int_referral_queue_log') }}
{{ config(materialized='incremental', incremental_strategy='append', on_schema_change='append_new_columns',
          full_refresh=false) }}
with

queue as (
    select * from {{ ref('referral_queue') }}
),

final as (
    select
        cast('{{ run_started_at.strftime("%Y-%m-%d %H:%M:%S") }}' as timestamp) as built_at,
        as_of_date,
        referral_id,
        action
    from queue
)

select * from final
{%- endif %}
