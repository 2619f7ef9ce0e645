{#- The rows marts.fct_referrals held, before this build replaced them, for
    the referrals a daily build computes again (int_referral_scope): their
    created month, specialty group, referring practice, payer and priority,
    so the aggregates kept by cell (macros/replace_cells.sql) also compute
    again the cells a referral left (a new version that changed its
    practice, a referral entered in error). Read as a plain relation, as the
    last build left it. Empty when the scope is (a full build, Spark) and
    on the first build. -#}
-- depends_on: {{ ref('int_referral_scope') }}
{%- set previous = adapter.get_relation(database=this.database, schema='marts',
                                        identifier='fct_referrals') if execute else none %}

with

scope as (
    select * from {{ ref('int_referral_scope') }}
),

{% if previous is none -%}
final as (
    select
        referral_id,
        cast(null as date) as created_month,
        cast(null as {{ dbt.type_string() }}) as specialty_group,
        cast(null as {{ dbt.type_string() }}) as referring_location_id,
        cast(null as {{ dbt.type_string() }}) as payer_id,
        cast(null as {{ dbt.type_string() }}) as priority
    from scope
    where 1 = 0
)
{%- else -%}
final as (
    select
        previous.referral_id,
        {{ referral_cell_columns() | join(', ') }}
    from {{ previous }} as previous
    where previous.referral_id in (select referral_id from scope)
)
{%- endif %}

select * from final
