{#- The referred-to checks of a queue row (docs/metrics.md,
    marts.referral_queue, action reroute): `referral` holds referred_to_npi
    and specialty_group, `referred_to` is the provider's directory row on T
    (int_providers_on_as_of_date, left joined), `parameters` int_parameters.
    int_referral_queue_actions computes them; int_referral_queue_scope
    computes them again over the stored rows to find those the directory's
    change on T moved. -#}
{% macro queue_referred_to_checks(referral, referred_to, parameters) -%}
        {{ parameters }}.has_providers and {{ referral }}.referred_to_npi is not null and {{ referred_to }}.npi is null
            as is_referred_to_unlisted,
        {{ parameters }}.has_providers and {{ referral }}.referred_to_npi is not null and {{ referred_to }}.npi is not null
            and not {{ referred_to }}.is_in_network as is_referred_to_out_of_network,
        {{ parameters }}.has_providers and {{ referral }}.referred_to_npi is not null
            and coalesce({{ referred_to }}.accepting_new_patients = false, false) as is_referred_to_not_accepting,
        {{ parameters }}.has_providers and {{ referral }}.referred_to_npi is not null and {{ referred_to }}.npi is not null
            and {{ referred_to }}.specialty_group != {{ referral }}.specialty_group as is_referred_to_other_group,
        {{ referred_to }}.specialty_group as referred_to_specialty_group
{%- endmacro %}


{#- The names of the columns queue_referred_to_checks gives. -#}
{% macro queue_referred_to_columns() -%}
    {{ return(['is_referred_to_unlisted', 'is_referred_to_out_of_network', 'is_referred_to_not_accepting',
               'is_referred_to_other_group', 'referred_to_specialty_group']) }}
{%- endmacro %}
