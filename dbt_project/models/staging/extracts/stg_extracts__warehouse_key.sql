with

source as (
    select * from {{ source('raw', '_warehouse_key') }}
),

final as (
    select secret from source
)

select * from final
