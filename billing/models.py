# E-visit billing models arrive with the billing issue.
