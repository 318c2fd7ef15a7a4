"""Privacy: consent to the privacy policy, the personal data export, and the deletion and
restriction requests account admins resolve."""
