with

source as (
    select * from {{ source('raw', 'engagements') }}
),

renamed as (
    select
        engagement_id,
        referral_id,
        occurred_at,
        occurred_at_utc_offset,
        channel,
        purpose,
        outcome,
        cost_amount,
        _file_name as source_file_name,
        _line_number as source_line_number,
        _loaded_at as loaded_at
    from source
)

select * from renamed
