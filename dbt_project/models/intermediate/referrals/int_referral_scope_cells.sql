{#- The cells (created month, specialty group, referring practice, payer,
    priority) that the referrals in int_referral_scope fall in, as this build
    computed them (marts.fct_referrals) or as the last build had them
    (int_referrals_replaced): the rows the aggregates kept by cell compute
    again (macros/replace_cells.sql), and the rows the serving copy takes
    from them (pipelines/defs/publish/publish.py). A model grouped by some of
    the columns takes their distinct values. Found once per build, so no
    aggregate reads marts.fct_referrals for them again. Empty when the scope
    is (a full build, Spark). -#}
-- depends_on: {{ ref('int_referral_scope') }}, {{ ref('int_referrals_replaced') }}, {{ ref('fct_referrals') }}
{%- set cells = referral_cell_columns() %}
with

changed as (
    select {{ cells | join(', ') }}
    from {{ ref('int_referrals_replaced') }}
    union all
    select {{ cells | join(', ') }}
    from {{ ref('fct_referrals') }}
    where referral_id in (select referral_id from {{ ref('int_referral_scope') }})
),

final as (
    select distinct {{ cells | join(', ') }}
    from changed
)

select * from final
