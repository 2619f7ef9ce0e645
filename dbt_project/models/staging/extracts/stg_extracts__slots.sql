with

source as (
    select * from {{ source('raw', 'slots') }}
),

renamed as (
    select
        provider_npi,
        start_at,
        start_at_utc_offset,
        status,
        _file_name as source_file_name,
        _line_number as source_line_number,
        _loaded_at as loaded_at
    from source
)

select * from renamed
