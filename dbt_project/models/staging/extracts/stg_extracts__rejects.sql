with

rejects as (
    select * from {{ source('raw', '_rejects') }}
),

renamed as (
    select
        file_name,
        entity,
        line_number,
        reason,
        record,
        run_id,
        loaded_at
    from rejects
)

select * from renamed
