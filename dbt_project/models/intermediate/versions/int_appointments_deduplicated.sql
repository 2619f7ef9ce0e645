{#- Latest version of each appointment: greatest updated_at; tie: the file that sorts last by name. -#}
with

versions as (
    select * from {{ ref('stg_extracts__appointments') }}
),

latest as (
    {{ latest_versions('versions', ['appointment_id'], 'updated_at desc, source_file_name desc, source_line_number desc') }}
),

final as (
    select * from latest
)

select * from final
