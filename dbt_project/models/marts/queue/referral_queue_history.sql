{#- One snapshot of the queue per build (appended, never rewritten), so the
    queue's change between builds can be shown. -#}
{#- full_refresh=false: a full rebuild of the warehouse keeps this history.
    append_watermark: the serving copy takes the rows built after its newest. -#}
{{ config(materialized='incremental', incremental_strategy='append', on_schema_change='append_new_columns',
          append_watermark='built_at',
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
