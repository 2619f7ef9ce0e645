with

files as (
    select * from {{ ref('stg_extracts__files') }}
),

final as (
    select
        file_name,
        entity,
        source_format,
        file_status,
        rows_read,
        rows_loaded,
        rows_rejected,
        rejection_reason,
        unresolved_references,
        reader_note,
        size_bytes,
        loaded_at
    from files
)

select * from final
