with

files as (
    select * from {{ ref('stg_extracts__files') }}
),

final as (
    select
        file_name,
        entity,
        file_status,
        rows_read,
        rows_loaded,
        rows_rejected,
        rejection_reason,
        size_bytes,
        loaded_at
    from files
)

select * from final
