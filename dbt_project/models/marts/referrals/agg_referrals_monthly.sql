{{ referral_aggregate(['created_month', 'specialty_group']) }}
