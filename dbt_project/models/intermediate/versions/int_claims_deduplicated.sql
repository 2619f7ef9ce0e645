{#- Latest version of each claim line: greatest updated_at; tie: the file that sorts last by name. -#}
with

versions as (
    select * from {{ ref('stg_extracts__claims') }}
),

latest as (
    {{ latest_versions('versions', ['claim_id', 'line_number'], 'updated_at desc, source_file_name desc, source_line_number desc') }}
),

final as (
    select * from latest
)

select * from final
