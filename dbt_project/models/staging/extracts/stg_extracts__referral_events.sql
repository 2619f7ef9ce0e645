with

source as (
    select * from {{ source('raw', 'referral_events') }}
),

renamed as (
    select
        event_id,
        referral_id,
        event_type,
        occurred_at,
        occurred_at_utc_offset,
        actor_npi,
        _file_name as source_file_name,
        _line_number as source_line_number,
        _loaded_at as loaded_at
    from source
)

select * from renamed
