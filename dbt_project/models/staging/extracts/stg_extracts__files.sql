with

manifest as (
    select * from {{ source('raw', '_manifest') }}
),

renamed as (
    select
        file_name,
        entity,
        source_format,
        sha256,
        size_bytes,
        status as file_status,
        rows_read,
        rows_loaded,
        rows_rejected,
        error as rejection_reason,
        unresolved_references,
        note as reader_note,
        run_id,
        loaded_at
    from manifest
)

select * from renamed
