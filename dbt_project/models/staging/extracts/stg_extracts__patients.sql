with

source as (
    select * from {{ source('raw', 'patients') }}
),

renamed as (
    select
        patient_id,
        birth_year,
        sex,
        zip3,
        payer_id,
        _file_name as source_file_name,
        _line_number as source_line_number,
        _loaded_at as loaded_at
    from source
)

select * from renamed
