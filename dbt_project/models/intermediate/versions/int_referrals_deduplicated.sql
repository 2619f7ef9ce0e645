{#- Latest version of each referral: greatest updated_at; tie: the file that sorts last by name. -#}
with

versions as (
    select * from {{ ref('stg_extracts__referrals') }}
),

latest as (
    {{ latest_versions('versions', ['referral_id'], 'updated_at desc, source_file_name desc, source_line_number desc') }}
),

final as (
    select * from latest
)

select * from final
