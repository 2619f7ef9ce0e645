{#- Continuous percentile (linear interpolation between the two nearest
    ranks, as SQL's percentile_cont) over the non-null values; null when there
    are none. -#}
{% macro percentile_cont(expression, fraction) -%}
    {{ return(adapter.dispatch('percentile_cont', 'refloop')(expression, fraction)) }}
{%- endmacro %}

{% macro default__percentile_cont(expression, fraction) -%}
    percentile_cont({{ fraction }}) within group (order by {{ expression }})
{%- endmacro %}

{% macro duckdb__percentile_cont(expression, fraction) -%}
    quantile_cont({{ expression }}, {{ fraction }})
{%- endmacro %}

{% macro spark__percentile_cont(expression, fraction) -%}
    percentile({{ expression }}, {{ fraction }})
{%- endmacro %}


{#- Several continuous percentiles of one expression at once, as an array in
    the order of `fractions` (take one with array_element, 1-based): one sort
    of the values per group instead of one per fraction. -#}
{% macro percentiles_cont(expression, fractions) -%}
    {{ return(adapter.dispatch('percentiles_cont', 'refloop')(expression, fractions)) }}
{%- endmacro %}

{% macro default__percentiles_cont(expression, fractions) -%}
    array[{% for fraction in fractions %}{{ default__percentile_cont(expression, fraction) }}{{ ', ' if not loop.last }}{% endfor %}]
{%- endmacro %}

{% macro duckdb__percentiles_cont(expression, fractions) -%}
    quantile_cont({{ expression }}, [{{ fractions | join(', ') }}])
{%- endmacro %}

{% macro spark__percentiles_cont(expression, fractions) -%}
    percentile({{ expression }}, array({{ fractions | join(', ') }}))
{%- endmacro %}


{#- The `index`-th element (1-based) of an array expression; null when the array is null. -#}
{% macro array_element(array, index) -%}
    {{ return(adapter.dispatch('array_element', 'refloop')(array, index)) }}
{%- endmacro %}

{% macro default__array_element(array, index) -%}
    ({{ array }})[{{ index }}]
{%- endmacro %}

{% macro spark__array_element(array, index) -%}
    element_at({{ array }}, {{ index }})
{%- endmacro %}
